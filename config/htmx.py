"""htmx for both apps: the request as django-htmx leaves it, and whether to answer a page
or a partial of it. `config.middleware.HtmxMessagesMiddleware` does the rest (`Vary`,
redirects as `HX-Location`, messages as out-of-band swaps).

Here rather than in `workshop` or `portal` so that either can import it: `portal` uses
`workshop`, never the reverse, and neither depends on the other's views.
"""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request after `django_htmx.middleware.HtmxMiddleware`: `request.htmx` is falsy
    unless htmx sent it, and then says which element asked (`target`, `trigger`)."""

    htmx: HtmxDetails


def page_or_partial(request: HtmxHttpRequest, page: str, partial: str, *, target: str = "") -> str:
    """The template that answers: `partial` when htmx asks for it, else the whole `page`.

    `partial` is a template name; "#name" is short for the page's own partial
    (`{% partialdef name %}` in `page`). With `target`, only a request from htmx aimed
    at that element id gets the partial (say, the page reloading its body, not a
    boosted link landing on it).
    """
    if request.htmx and (not target or request.htmx.target == target):
        return f"{page}{partial}" if partial.startswith("#") else partial
    return page
