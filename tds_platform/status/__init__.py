"""`tds status`: one screen with everything an operator checks first."""
