"""The paperfeed HTTP service, its database access and its command line."""
