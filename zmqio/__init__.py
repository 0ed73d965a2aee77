"""The transport under the order gateway and the market-data feeds: ZeroMQ through libzmq's C
API where pyzmq's own libzmq can be found, through pyzmq elsewhere (:mod:`zmqio.libzmq`).

Each job has a C twin and a pyzmq twin with one interface, chosen once by a factory when the
socket is bound: :func:`zmqio.router.open_router` (a ROUTER's drain and sends) and
:func:`zmqio.publish.open_publisher` (a PUB socket's grouped sends).
"""
