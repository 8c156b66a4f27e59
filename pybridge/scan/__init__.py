"""`pybridge scan`: the ten steps in staging mode for every object in scope, from one read of each side
(runner.py), the tenant answered from one snapshot (snapshot.py), what only a whole view can see
(whole_view.py), and its command line (cli.py)."""
