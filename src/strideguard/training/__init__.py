"""Training load and injury risk: load series (weekly volume, ACWR, CTL/ATL/TSB, monotony), risk rules from
`knowledge/risk_rules.yaml`, shoes, the pain-monitoring model, the report and its charts. Pure: no
database."""
