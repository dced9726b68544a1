"""What the bot sends and how: the one paced path to Telegram (pace.py), the loops that send (codes: delivery.py;
forwards: forwarding.py; broadcasts: broadcaster.py; money news: money_news.py; hiding codes: hiding.py) and what
they share (telegram_out.py, rounds.py, screens.py, topics.py, and rendering.py: the renderer they are handed).

Loops are handed a renderer; they import no screen (handlers/)."""
