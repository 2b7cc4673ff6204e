goo
