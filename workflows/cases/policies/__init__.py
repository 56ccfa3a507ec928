"""免申即享: benefits granted without an application, decided by a published DMN decision over residents' profiles."""
