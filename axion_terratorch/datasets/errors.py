"""Errors raised for input data that cannot be used."""

from __future__ import annotations


class BadTileError(ValueError):
    """A tile cannot be used: the message names the file (or tile) and what is wrong with it.

    With ``on_bad_tile: skip`` the datasets catch it, warn and count the tile instead of stopping.
    """
