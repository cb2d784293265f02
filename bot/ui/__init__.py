"""The Discord side: the client, the `TaskEvents` implementation, progress replies, persistent views, rendering."""
