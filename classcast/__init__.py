"""What the three services share, so it is written once: RFC 9110 rules for preconditions and
byte ranges and HTTP dates (`http_rules`), JSON log lines (`logs`), the clock with its fake
(`clock`) and the base of every service's errors (`errors`). Small on purpose; it imports none
of edge/, origin/ or loadtest/."""
