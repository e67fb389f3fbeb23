"""The compute market (算力交易): prices, quotes, call auctions, leases, metering, the
double-entry ledger, settlement with revenue sharing, and compute vouchers (算力券).

Pure: no I/O and no clock. Every function that needs the time takes it as an argument.
Money is always an ``int`` of micro-units of one currency; no floats touch a money path.
"""
