"""Pain triage: the knowledge (YAML per body region under `knowledge/`, loaded and validated), the scoring
engine, the interview that chooses questions, the result's wording, and the guided routines. Pure: no
database."""
