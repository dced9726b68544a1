"""The getatext client, moved whole into this package so that its history follows it; the next
commit splits it by what each part models. Every module-level name stays importable here."""
from . import replies as _replies

globals().update({k: v for k, v in vars(_replies).items() if not k.startswith("__") or k == "__all__"})
