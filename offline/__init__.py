"""Run the Pulumi program without the Pulumi CLI or AWS: the offline harness and its mocks."""
