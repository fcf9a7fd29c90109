"""The multi-store API: /v2/info/stores[/detail] and DELETE /v2/stores/{store}/{image}.

Above the store drivers: it reads the registry and images' locations; the drivers know
nothing of it.
"""
