"""The transport under the order gateway and the market-data feeds: ZeroMQ through libzmq's C
API where pyzmq's own libzmq can be found, through pyzmq elsewhere (:mod:`zmqio.libzmq`)."""
