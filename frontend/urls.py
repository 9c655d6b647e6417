"""The pages. Tender URLs carry the public UUID, never the database id."""

from django.urls import path

from frontend.views import auth, dashboard, entrustments, evaluation, keys, manage, opening, public, tokens
from frontend.views import bids as bid_pages
from frontend.views import custody as custody_pages
from frontend.views import draw as draw_pages

app_name = "frontend"

urlpatterns = [
    path("", public.tender_list, name="tender-list"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/notifications/read/", dashboard.notifications_read, name="notifications-read"),
    path("keys/", keys.key_list, name="keys"),
    path("keys/<int:pk>/revoke/", keys.key_revoke, name="key-revoke"),
    path("tokens/", tokens.token_list, name="tokens"),
    path("tokens/<int:pk>/revoke/", tokens.token_revoke, name="token-revoke"),
    path("my/tenders/", manage.my_tenders, name="my-tenders"),
    path("entrustments/", entrustments.entrustment_list, name="entrustments"),
    path("entrustments/<uuid:public_id>/revoke/", entrustments.entrustment_revoke, name="entrustment-revoke"),
    path("supervision/tenders/", manage.supervision, name="supervision"),
    path("tenders/new/", manage.tender_create, name="tender-create"),
    path("tenders/<uuid:public_id>/", public.tender_detail, name="tender-detail"),
    path("tenders/<uuid:public_id>/edit/", manage.tender_edit, name="tender-edit"),
    path("tenders/<uuid:public_id>/documents/", manage.tender_documents, name="tender-documents"),
    path(
        "tenders/<uuid:public_id>/documents/<uuid:document_id>/download/",
        public.download_document,
        name="document-download",
    ),
    path(
        "tenders/<uuid:public_id>/documents/<uuid:document_id>/remove/",
        manage.document_remove,
        name="document-remove",
    ),
    path("tenders/<uuid:public_id>/publish/", manage.tender_publish, name="tender-publish"),
    path("tenders/<uuid:public_id>/questions/", manage.questions_inbox, name="tender-questions"),
    path("tenders/<uuid:public_id>/questions/ask/", public.ask_question, name="question-ask"),
    path(
        "tenders/<uuid:public_id>/questions/<uuid:question_id>/answer/",
        manage.question_answer,
        name="question-answer",
    ),
    path("tenders/<uuid:public_id>/amendments/new/", manage.amendment_create, name="amendment-create"),
    path("tenders/<uuid:public_id>/bid/", bid_pages.bid_submit, name="bid-submit"),
    path("tenders/<uuid:public_id>/custody/", custody_pages.custody_confirm, name="custody-confirm"),
    path("tenders/<uuid:public_id>/opening/", opening.opening_hall, name="opening-hall"),
    path("tenders/<uuid:public_id>/experts/", draw_pages.draw_page, name="tender-draw"),
    path("tenders/<uuid:public_id>/invitation/", draw_pages.invitation_page, name="invitation"),
    path("pool/", draw_pages.pool_page, name="pool"),
    path("keys/browser/", bid_pages.browser_keys, name="browser-keys"),
    path("evaluation/<uuid:public_id>/session/", evaluation.evaluation_session, name="evaluation-session"),
    path("tenders/<uuid:public_id>/clarifications/", evaluation.bidder_clarifications, name="bidder-clarifications"),
    path(
        "evaluation/<uuid:public_id>/bids/<uuid:bid_id>/files/<path:path>",
        evaluation.bid_file,
        name="evaluation-bid-file",
    ),
]
