"""HTTP in: Telegram's webhook and the health and metrics endpoints (inbound.py), the providers' code webhooks
(webhook.py), Crypto Pay's payment webhook (cryptopay_hook.py), updates handled once (once.py), the metrics
(metrics.py). A webhook stores; the senders send."""
