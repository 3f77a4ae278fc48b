"""The results store: Cosmos DB (NoSQL API), locally the ``@vercel/cosmosdb-server``.

Containers and partition keys (names come from ``settings.cosmos``; keys are fixed here and in
:func:`tweet_triage.store.cosmos.container_specs`):

=============  ==============  ==================================================================================
container      partition key   why
=============  ==============  ==================================================================================
predictions    ``/id``         ``id`` is the tweet id: a retried or duplicated write upserts the same item, every
                               logical partition holds one item (no 20 GB per-partition cap, writes spread evenly),
                               and a tweet is read with one single-partition query.
feedback       ``/tweet_id``   all corrections of one tweet sit together; ``id`` chosen by the writer.
alerts         ``/id``         few items, read by time across partitions.
shadow         ``/tweet_id``   a candidate model's shadow predictions next to each other per tweet.
=============  ==============  ==================================================================================

Dashboard queries (newest, counts per label, export) are cross-partition with any key derived from the tweet; see
docs/decisions.md for the trade-off. Modules: ``records`` (the item model), ``cosmos`` (clients, containers, errors),
``retry`` (transient errors, backoff), ``writer`` (async upserts for the worker), ``reader`` (sync queries for the CLI
and dashboards).
"""
