"""Live chat (issue 18): the contract is docs/live-chat.md."""
