"""The fan-out consumers: S3 invoice events from SQS -> shipping (PostgreSQL) and analytics (warehouse).

One processing function (`processing.process_message`) and two thin adapters: a Lambda handler with
partial batch responses (`lambda_handlers`) and a long-running poller (`cli`, `python -m worker consume`).
"""
