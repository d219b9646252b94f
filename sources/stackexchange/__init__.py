"""StackExchange: `source` (Posts.xml rows joined into question threads), `html` (bodies to text)."""
