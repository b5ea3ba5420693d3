"""Stack suite: the CloudFormation stack itself (status, protection, drift)."""
