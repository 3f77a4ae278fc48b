"""The broker edge every stream process shares.

Kafka/Event Hubs connection, the Faust app factory, sending until acknowledged, topics, reading topics back.
"""
