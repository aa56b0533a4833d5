# Channel adapters (email, Telegram, phone, web form) and the raw inbound log
# arrive with their issues; inbound messages enter through
# tickets.services.receive_message().
