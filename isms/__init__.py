"""Campus ISMS (校園資安管理平台)."""

__version__ = "0.1.0"
