"""No register edits a voided record: it is voided with a reason and recorded anew."""

import pytest
from django.urls import reverse

from isms.core import services
from isms.core.models import Person
from isms.core.roles import PERSONNEL


@pytest.mark.django_db
def test_the_edit_page_of_a_voided_record_is_refused(client_for):
    c = client_for(PERSONNEL)
    person = Person.objects.create(name="王小明")
    url = reverse("core:person_edit", args=[person.pk])
    assert c.get(url).status_code == 200
    services.record_void(person, actor=c.user, reason="重複建檔")
    assert c.get(url).status_code == 403
    response = c.post(url, {"name": "改名", "kind": "staff", "status": "active"})
    assert response.status_code == 403
    person.refresh_from_db()
    assert person.name == "王小明"
