"""The local stand-ins for Event Hubs (Tansu), Cosmos DB (@vercel/cosmosdb-server) and an MLflow server."""
