"""The wire layouts: sizes, alignment, decoding into commands, the shared reject table."""
import numpy as np
import pytest

from gateway import protocol as p
from matching import COMMAND_DTYPE, CommandType, Reject


@pytest.mark.parametrize("name, layout", list(p.INBOUND_LAYOUTS.items()) + list(p.OUTBOUND_LAYOUTS.items()))
def test_every_layout_has_its_directions_size_and_type_byte_first(name, layout):
    dtype, types, docs = layout
    size = p.INBOUND_SIZE if name in p.INBOUND_LAYOUTS else p.OUTBOUND_SIZE
    assert dtype.itemsize == size
    assert dtype.fields["msg_type"][1] == 0 and dtype.fields["msg_type"][0] == np.dtype("u1")
    assert set(docs) == set(dtype.names)
    covered = np.zeros(size, dtype=int)                # every byte belongs to exactly one field
    for field in dtype.names:
        fdt, offset = dtype.fields[field][:2]
        covered[offset:offset + fdt.itemsize] += 1
        assert offset % fdt.alignment == 0 and fdt.byteorder in "<|="
    assert (covered == 1).all()


def test_message_types_are_unique_and_order_types_map_to_their_command_types():
    values = [int(t) for t in p.MsgType]
    assert len(values) == len(set(values))
    for t in p.ORDER_TYPES:
        assert p.COMMAND_OF[int(t)] == int(CommandType[t.name])
    assert np.count_nonzero(p.COMMAND_OF) == len(p.ORDER_TYPES)        # nothing else decodes to a command
    assert set(p.CREATING_TYPES) < set(p.ORDER_TYPES)


def test_decode_orders_copies_every_field_into_commands():
    rng = np.random.default_rng(3)
    msgs = np.zeros(50, dtype=p.ORDER_DTYPE)
    msgs["msg_type"] = rng.choice([int(t) for t in p.ORDER_TYPES], 50)
    for name in ("side", "order_type", "tif", "stp", "flags"):
        msgs[name] = rng.integers(0, 256, 50)
    for name in ("instrument", "account", "contra_account", "min_qty"):
        msgs[name] = rng.integers(-2**31, 2**31, 50)
    for name in ("client_order_id", "order_id", "price", "qty"):
        msgs[name] = rng.integers(-2**63, 2**63 - 1, 50, dtype=np.int64)
    wire = np.frombuffer(msgs.tobytes(), dtype=p.ORDER_DTYPE)
    cmds = p.decode_orders(wire)
    assert cmds.dtype == COMMAND_DTYPE
    assert (cmds["type"] == p.COMMAND_OF[msgs["msg_type"]]).all()
    for name in ("side", "order_type", "tif", "stp", "instrument", "account", "client_order_id", "order_id",
                 "price", "qty"):
        assert (cmds[name] == msgs[name]).all(), name
    assert not cmds["seq"].any() and not cmds["ts"].any() and not cmds["session"].any()
    # the fields one trade type uses reach its command only
    quote, listing = msgs["msg_type"] == p.MsgType.BLOCK_QUOTE, msgs["msg_type"] == p.MsgType.LIST_FIXED
    assert quote.any() and listing.any()
    assert (cmds["contra_account"] == np.where(quote, msgs["contra_account"], 0)).all()
    assert (cmds["min_qty"] == np.where(listing, msgs["min_qty"], 0)).all()
    assert (cmds["flags"] == np.where(quote, msgs["flags"] & 2, 0)).all()


def test_reserved_mask_covers_exactly_the_reserved_fields():
    mask = p.reserved_mask(p.ORDER_DTYPE)
    msg = p.message(p.MsgType.NEW_ORDER, side=1, qty=5, price=7, account=3, instrument=1, client_order_id=9,
                    order_id=11, order_type=1, tif=1, stp=4)
    assert not (np.frombuffer(msg.tobytes(), np.uint8) & mask).any()
    raw = bytearray(msg.tobytes())
    raw[6] = 1                                        # reserved2
    assert (np.frombuffer(bytes(raw), np.uint8) & mask).any()


def test_gateway_codes_are_the_1xxx_band_of_the_one_reject_table():
    assert p.GatewayReject is Reject
    assert p.GATEWAY_REJECTS and all(1001 < int(r) < 2000 for r in p.GATEWAY_REJECTS)
    assert Reject.UNKNOWN_COMMAND not in p.GATEWAY_REJECTS        # raised by the engine
    table = p.all_reject_codes()
    assert table[int(Reject.UNKNOWN_COMMAND)] == "UNKNOWN_COMMAND" and table[1011] == "NOT_AUTHORISED"
    assert list(table) == sorted(table)
