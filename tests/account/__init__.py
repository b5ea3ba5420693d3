"""Account suite: the account-level controls of each account and region in scope, judged once (read-only)."""
