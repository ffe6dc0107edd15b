"""CRM ingestion: the inbox of received events, dead letters, per-record versions, field
mappings, and the durable recompute requests an applied event leaves behind."""
