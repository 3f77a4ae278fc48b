"""The live scoring stream: producers, the Faust worker, and the Cosmos DB results store."""
