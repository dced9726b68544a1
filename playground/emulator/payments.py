"""Payments: invoices the bot sends (sendInvoice, in Telegram Stars "XTR" or a provider's currency), a user paying
one (pay_invoice: a pre_checkout_query, the bot's answerPreCheckoutQuery within the timeout, then a
successful_payment message with a fresh charge id) and refundStarPayment of such a charge.
"""
from __future__ import annotations

import asyncio
import copy
import secrets

from .models import QUERY_INVALID, ApiError, EmulatorError, bool_param, int_param


class PaymentsMixin:
    def _init_payments(self) -> None:
        self.pre_checkout_answers: dict[str, dict] = {}
        self.payments: dict[str, dict] = {}     # telegram_payment_charge_id -> payment info (+ refunded flag)
        self._invoices: dict[tuple[int, int], dict] = {}
        self._pre_checkout: dict[str, asyncio.Future] = {}

    async def stop(self) -> None:
        for fut in self._pre_checkout.values():  # a pay_invoice still waiting for the bot returns "timeout"
            if not fut.done():
                fut.cancel()
        await super().stop()

    def _api_sendinvoice(self, p: dict) -> dict:
        chat = self._target(p)
        currency, prices = str(p.get("currency") or ""), p.get("prices")
        for key, limit in (("title", 32), ("description", 255)):
            if not 1 <= len(str(p.get(key) or "")) <= limit:
                raise ApiError(400, f"Bad Request: {key.upper()}_INVALID" if p.get(key) else
                               f"Bad Request: {key} is empty")
        if not 1 <= len(str(p.get("payload") or "").encode()) <= 128:
            raise ApiError(400, "Bad Request: INVOICE_PAYLOAD_INVALID")
        if not isinstance(prices, list) or not prices or (currency == "XTR" and len(prices) != 1):
            raise ApiError(400, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID")
        total = sum(int(item.get("amount", 0)) for item in prices)
        if total <= 0:
            raise ApiError(400, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID")
        if currency != "XTR" and not p.get("provider_token"):
            raise ApiError(400, "Bad Request: PAYMENT_PROVIDER_INVALID")
        markup = self._markup(chat, p)
        self._flood_check(chat)
        invoice = {"title": p["title"], "description": p["description"],
                   "start_parameter": str(p.get("start_parameter") or ""), "currency": currency,
                   "total_amount": total}
        msg = self._new_message(chat, self.bot_user, invoice=invoice, reply_markup=markup)
        self._invoices[(chat.id, msg["message_id"])] = {**invoice, "payload": str(p["payload"]), "prices": prices}
        self._record("send", "sendInvoice", chat.id, msg["message_id"], p, msg)
        return copy.deepcopy(msg)

    def _api_answerprecheckoutquery(self, p: dict) -> bool:
        qid = str(p.get("pre_checkout_query_id") or "")
        fut = self._pre_checkout.get(qid)
        if fut is None or fut.done() or qid in self.pre_checkout_answers:
            raise ApiError(400, QUERY_INVALID)
        ok = bool_param(p, "ok")
        if not ok and not p.get("error_message"):
            raise ApiError(400, "Bad Request: ERROR_MESSAGE_EMPTY")
        self.pre_checkout_answers[qid] = answer = {"ok": ok, "error_message": p.get("error_message")}
        fut.set_result(answer)
        return True

    def _api_refundstarpayment(self, p: dict) -> bool:
        payment = self.payments.get(str(p.get("telegram_payment_charge_id") or ""))
        if payment is None or payment["user_id"] != int_param(p, "user_id"):
            raise ApiError(400, "Bad Request: CHARGE_NOT_FOUND")
        if payment["refunded"]:
            raise ApiError(400, "Bad Request: CHARGE_ALREADY_REFUNDED")
        payment["refunded"] = True
        return True

    async def pay_invoice(self, chat_id: int, user_id: int, message_id: int, *, timeout: float = 5.0) -> dict:
        """Pay a bot-sent invoice: emits pre_checkout_query and waits up to ``timeout`` s for the bot's answer.
        Returns {"status": "paid"|"declined"|"timeout", ...}; when paid a successful_payment message is emitted
        with a fresh telegram_payment_charge_id."""
        chat, user = self._chat(chat_id), self._user(user_id)
        invoice = self._invoices.get((chat.id, int(message_id)))
        if invoice is None:
            raise EmulatorError(f"message {message_id} in chat {chat_id} is not an invoice")
        qid = str(next(self._ids))
        self._pre_checkout[qid] = fut = asyncio.get_running_loop().create_future()
        query = {"id": qid, "from": user.to_dict(), "currency": invoice["currency"],
                 "total_amount": invoice["total_amount"], "invoice_payload": invoice["payload"]}
        self._push("pre_checkout_query", query)
        try:
            answer = await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            fut.cancel()  # a late answerPreCheckoutQuery now gets "query is too old"
            return {"status": "timeout", "pre_checkout_query_id": qid}
        except asyncio.CancelledError:
            if not fut.cancelled():  # our caller is being cancelled, not the emulator stopping
                raise
            return {"status": "timeout", "pre_checkout_query_id": qid}
        if not answer["ok"]:
            return {"status": "declined", "pre_checkout_query_id": qid, "error_message": answer["error_message"]}
        charge = f"stxEMU{secrets.token_hex(12)}"
        payment = {"currency": invoice["currency"], "total_amount": invoice["total_amount"],
                   "invoice_payload": invoice["payload"], "telegram_payment_charge_id": charge,
                   "provider_payment_charge_id": "" if invoice["currency"] == "XTR" else f"prov_{charge}"}
        self.payments[charge] = {**payment, "user_id": user.id, "chat_id": chat.id, "refunded": False}
        msg = self._new_message(chat, user.to_dict(), successful_payment=payment)
        update = self._push("message", msg)
        return {"status": "paid", "pre_checkout_query_id": qid, "telegram_payment_charge_id": charge,
                "update_id": update["update_id"], "message": copy.deepcopy(msg)}
