"""Producers: tweets from a CSV file to the ``tweets`` topic, over Kafka (local broker or the Event Hubs Kafka
endpoint) or the Event Hubs AMQP client — rate-limited, with progress and a sent/failed report."""
