"""`python -m api …` is the `zhangban` command."""
from api.cli import main

main()
