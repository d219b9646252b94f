"""Wikipedia in 20 languages: `source` (the job), `dump` (XML pages), `ranges` (multistream byte
ranges), `wikitext` (markup to plain text) and its `templates`."""
