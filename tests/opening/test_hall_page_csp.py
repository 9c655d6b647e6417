"""The opening hall's page runs under the strict Content-Security-Policy:
its one script carries the response's nonce.
"""

from __future__ import annotations

from django.urls import reverse

from tests.frontend.conftest import signed_in
from tests.frontend.csp import assert_strict_policy, executable_scripts
from tests.opening.conftest import OpeningCase


def test_the_hall_page_runs_only_its_own_script_with_the_responses_nonce(opening_case: OpeningCase) -> None:
    url = reverse("frontend:opening-hall", args=[opening_case.tender.public_id])
    waiting = signed_in(opening_case.personas.bidder_a).get(url)
    assert_strict_policy(waiting)
    opening_case.at_opening()
    for participant in (opening_case.personas.bidder_a, opening_case.custodians[0], opening_case.personas.regulator):
        response = signed_in(participant).get(url)
        assert response.status_code == 200
        assert_strict_policy(response)
        [script] = executable_scripts(response)
        assert 'src="/static/frontend/build/opening-page.js"' in script
