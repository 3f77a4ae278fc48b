"""On-call alerts: the record (:mod:`.records`), its Cosmos store (:mod:`.store`), webhook delivery
(:mod:`.webhook`) and the deduplicating alert center (:mod:`.center`)."""
