"""What an instance is: the schema, loading (CSV, inline records), validation and preparation."""
