"""The audit log: who changed what, when, before → after. A kit every interface records into
(console pages, REST API, `kefu config apply`, CLI); it knows nothing of what it records."""
