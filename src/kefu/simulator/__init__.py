"""A faithful WeCom 微信客服 server on loopback: `/cgi-bin/...` plus a control API (docs/simulator.md)."""

from kefu.simulator.app import create_simulator_app
from kefu.simulator.server import SimulatorServer

__all__ = ["SimulatorServer", "create_simulator_app"]
