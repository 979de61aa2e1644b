"""Models of credits (accounts, spend, credit policies, credit reports). Registered with incidents."""
