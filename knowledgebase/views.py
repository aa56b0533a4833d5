from django.shortcuts import render


def home(request):
    """The public knowledge base. Articles, multilingual search and deflection
    arrive with the knowledge-base issue; until then the page says so and sends
    people to the portal."""
    return render(request, "kb/home.html")
