"""What a solve returns: result tables, summary files and the independent verifier."""
