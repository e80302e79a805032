"""Kefu: a self-hosted hub for WeCom 微信客服."""

__version__ = "0.1.0"
