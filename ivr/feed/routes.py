"""Every route of the staff feed, as one router for the application."""

from __future__ import annotations

from fastapi import APIRouter

from ivr.feed import api, exports, missing, missing_page, page, sign_in

router = APIRouter()
router.include_router(exports.router)
router.include_router(api.router)
router.include_router(missing.router)
router.include_router(sign_in.router)
router.include_router(page.router)
router.include_router(missing_page.router)
