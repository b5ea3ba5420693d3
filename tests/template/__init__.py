"""Template suite: the static checks of the CloudFormation template (the only suite that reads the file)."""
