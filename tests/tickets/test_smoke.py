def test_create(ticket):
    assert ticket.number == 1001
    assert ticket.events.count() == 1
