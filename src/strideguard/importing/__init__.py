"""The import service: sources (files, folders, export archives) -> parsing in worker processes -> saving in
batches -> import records; and the database-backed job queue that runs uploads."""
