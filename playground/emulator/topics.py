"""Forum topics: a supergroup that is a forum (is_forum in getChat and in its Chat objects), topics the bot
creates, edits, closes, reopens and deletes (createForumTopic, editForumTopic, closeForumTopic, reopenForumTopic,
deleteForumTopic), and messages sent into one (message_thread_id, stored on the message with is_topic_message).

A topic's id is the id of its forum_topic_created service message, as on Telegram. The bot needs to be an
administrator with can_manage_topics to create one (set_bot_rights); it may close, reopen and edit the topics it
created without that right. A person closes, reopens or deletes a topic through the control methods here.

Sending into a deleted topic answers "message thread not found", into a closed one TOPIC_CLOSED (the emulator
refuses every sender there, the bot included, so the bot's fallback can be exercised).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .models import ApiError, EmuChat, EmulatorError, bool_param, int_param

ICON_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)  # the six Telegram allows
NOT_A_FORUM = "Bad Request: the chat is not a forum"
THREAD_NOT_FOUND = "Bad Request: message thread not found"
TOPIC_CLOSED = "Bad Request: TOPIC_CLOSED"
NO_RIGHTS_CREATE = "Bad Request: not enough rights to create a topic"
NO_RIGHTS_MANAGE = "Bad Request: not enough rights to manage topics"
TOPIC_NOT_MODIFIED = "Bad Request: TOPIC_NOT_MODIFIED"


@dataclass
class EmuTopic:
    chat_id: int
    thread_id: int
    name: str
    icon_color: int
    created_by: int  # user id (or the bot's id)
    icon_custom_emoji_id: str | None = None
    closed: bool = False

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"message_thread_id": self.thread_id, "name": self.name, "icon_color": self.icon_color}
        if self.icon_custom_emoji_id:
            d["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return d


class TopicsMixin:
    def _init_topics(self) -> None:
        self.topics: dict[tuple[int, int], EmuTopic] = {}  # (chat id, thread id) -> topic; deleted ones are gone

    # -------------------------------------------------------------------------------------------- helpers
    def _bot_may_manage_topics(self, chat: EmuChat) -> bool:
        return chat.bot_status == "administrator" and chat.bot_can_manage_topics

    def _thread(self, chat: EmuChat, p: dict) -> int | None:
        """The message_thread_id of a send, checked as Telegram does: a deleted topic is not found, a closed one
        refuses. None: the chat's main thread (a forum's General topic)."""
        thread = int_param(p, "message_thread_id", None)
        if thread is None or thread == 1 and chat.is_forum:  # 1: a forum's General topic
            return None
        if not chat.is_forum:
            if thread not in self._msgs.get(chat.id, {}):
                raise ApiError(400, THREAD_NOT_FOUND)
            return thread
        topic = self.topics.get((chat.id, thread))
        if topic is None:
            raise ApiError(400, THREAD_NOT_FOUND)
        if topic.closed:
            raise ApiError(400, TOPIC_CLOSED)
        return thread

    def _topic_fields(self, chat: EmuChat, thread: int | None) -> dict:
        """What a message sent into ``thread`` carries."""
        if thread is None:
            return {}
        return {"message_thread_id": thread, "is_topic_message": True if chat.is_forum else None}

    def _forum_topic(self, p: dict) -> tuple[EmuChat, EmuTopic]:
        """The call's forum and topic (message_thread_id), or Telegram's error for a chat or topic that is none."""
        chat = self._target(p)
        if not chat.is_forum:
            raise ApiError(400, NOT_A_FORUM)
        topic = self.topics.get((chat.id, int_param(p, "message_thread_id")))
        if topic is None:
            raise ApiError(400, THREAD_NOT_FOUND)
        return chat, topic

    def _bot_topic(self, p: dict, *, own_ok: bool) -> tuple[EmuChat, EmuTopic]:
        chat, topic = self._forum_topic(p)
        if not self._bot_may_manage_topics(chat) and not (own_ok and topic.created_by == self.bot_user["id"]):
            raise ApiError(400, NO_RIGHTS_MANAGE)
        return chat, topic

    def _topic_event(self, chat: EmuChat, topic: EmuTopic, sender: dict, **service: Any) -> dict:
        msg = self._new_message(chat, sender, message_thread_id=topic.thread_id, is_topic_message=True, **service)
        self._push("message", msg)
        return msg

    def _open_topic(self, chat: EmuChat, sender: dict, name: str, icon_color: int,
                    icon_custom_emoji_id: str | None) -> EmuTopic:
        created = {"name": name, "icon_color": icon_color}
        if icon_custom_emoji_id:
            created["icon_custom_emoji_id"] = icon_custom_emoji_id
        msg = self._new_message(chat, sender, forum_topic_created=created, is_topic_message=True)
        msg["message_thread_id"] = msg["message_id"]
        topic = EmuTopic(chat.id, msg["message_id"], name, icon_color, sender["id"], icon_custom_emoji_id)
        self.topics[(chat.id, topic.thread_id)] = topic
        self._push("message", msg)
        return topic

    @staticmethod
    def _topic_name(p: dict, required: bool = True) -> str | None:
        name = p.get("name")
        if name is None and not required:
            return None
        name = str(name or "")
        if not name.strip():
            raise ApiError(400, "Bad Request: TOPIC_TITLE_EMPTY" if required else "Bad Request: name is empty")
        if len(name) > 128:
            raise ApiError(400, "Bad Request: TOPIC_TITLE_INVALID")
        return name

    # -------------------------------------------------------------------------------------------- Bot API methods
    def _api_createforumtopic(self, p: dict) -> dict:
        chat = self._target(p)
        if not chat.is_forum:
            raise ApiError(400, NOT_A_FORUM)
        if not self._bot_may_manage_topics(chat):
            raise ApiError(400, NO_RIGHTS_CREATE)
        name = self._topic_name(p)
        color = int_param(p, "icon_color", ICON_COLORS[0])
        if color not in ICON_COLORS:
            raise ApiError(400, "Bad Request: invalid icon_color specified")
        topic = self._open_topic(chat, self.bot_user, name, color, p.get("icon_custom_emoji_id") or None)
        self._record("topic", "createForumTopic", chat.id, topic.thread_id, p, None)
        return topic.to_dict()

    def _api_editforumtopic(self, p: dict) -> bool:
        chat, topic = self._bot_topic(p, own_ok=True)
        name = self._topic_name(p, required=False)
        emoji = p.get("icon_custom_emoji_id")
        edited: dict[str, Any] = {}
        if name is not None and name != topic.name:
            topic.name = edited["name"] = name
        if emoji is not None and emoji != (topic.icon_custom_emoji_id or ""):
            topic.icon_custom_emoji_id = emoji or None
            edited["icon_custom_emoji_id"] = emoji
        if not edited:
            raise ApiError(400, TOPIC_NOT_MODIFIED)
        self._topic_event(chat, topic, self.bot_user, forum_topic_edited=edited)
        self._record("topic", "editForumTopic", chat.id, topic.thread_id, p, None)
        return True

    def _api_closeforumtopic(self, p: dict) -> bool:
        chat, topic = self._bot_topic(p, own_ok=True)
        self._set_closed(chat, topic, True, self.bot_user)
        self._record("topic", "closeForumTopic", chat.id, topic.thread_id, p, None)
        return True

    def _api_reopenforumtopic(self, p: dict) -> bool:
        chat, topic = self._bot_topic(p, own_ok=True)
        self._set_closed(chat, topic, False, self.bot_user)
        self._record("topic", "reopenForumTopic", chat.id, topic.thread_id, p, None)
        return True

    def _api_deleteforumtopic(self, p: dict) -> bool:
        chat, topic = self._forum_topic(p)
        if chat.bot_status != "administrator":
            raise ApiError(400, "Bad Request: CHAT_ADMIN_REQUIRED")
        self._remove_topic(chat, topic)
        self._record("topic", "deleteForumTopic", chat.id, topic.thread_id, p, None)
        return True

    def _set_closed(self, chat: EmuChat, topic: EmuTopic, closed: bool, sender: dict) -> None:
        if topic.closed == closed:
            raise ApiError(400, TOPIC_NOT_MODIFIED)
        topic.closed = closed
        self._topic_event(chat, topic, sender, **{"forum_topic_closed" if closed else "forum_topic_reopened": {}})

    def _remove_topic(self, chat: EmuChat, topic: EmuTopic) -> None:
        """The topic and every message in it are gone (no update is sent for a deletion, as on Telegram)."""
        del self.topics[(chat.id, topic.thread_id)]
        messages = self._msgs.get(chat.id, {})
        for mid in [mid for mid, m in messages.items() if m.get("message_thread_id") == topic.thread_id]:
            del messages[mid]

    # -------------------------------------------------------------------------------------------- control
    def make_forum(self, chat_id: int, enabled: bool = True) -> dict:
        """Turn topics on (or off) in a supergroup, as its owner does in the group's settings."""
        chat = self._chat(chat_id)
        if chat.type != "supergroup":
            raise EmulatorError(f"chat {chat_id} is not a supergroup (forums are supergroups)")
        chat.is_forum = bool(enabled)
        return chat.to_dict()

    def set_bot_rights(self, chat_id: int, *, can_manage_topics: bool = True) -> None:
        """Make the bot an administrator of the group with (or without) the right to manage topics."""
        chat = self._chat(chat_id)
        if chat.bot_status != "administrator":
            self._bot_status_change(chat, "administrator", self._actor(chat, None))
            chat.bot_status = "administrator"
        chat.bot_can_manage_topics = bool(can_manage_topics)

    def create_topic(self, chat_id: int, name: str, *, by_user_id: int | None = None,
                     icon_color: int = ICON_COLORS[0]) -> dict:
        """A person opens a topic; returns the ForumTopic."""
        chat = self._chat(chat_id)
        if not chat.is_forum:
            raise EmulatorError(f"chat {chat_id} is not a forum")
        return self._open_topic(chat, self._actor(chat, by_user_id), name, icon_color, None).to_dict()

    def _person_topic(self, chat_id: int, thread_id: int) -> tuple[EmuChat, EmuTopic]:
        chat = self._chat(chat_id)
        topic = self.topics.get((chat.id, int(thread_id)))
        if topic is None:
            raise EmulatorError(f"no topic {thread_id} in chat {chat_id}")
        return chat, topic

    def close_topic(self, chat_id: int, thread_id: int, *, by_user_id: int | None = None) -> None:
        """A person (an admin) closes the topic: later sends there answer TOPIC_CLOSED."""
        chat, topic = self._person_topic(chat_id, thread_id)
        if not topic.closed:
            self._set_closed(chat, topic, True, self._actor(chat, by_user_id))

    def reopen_topic(self, chat_id: int, thread_id: int, *, by_user_id: int | None = None) -> None:
        chat, topic = self._person_topic(chat_id, thread_id)
        if topic.closed:
            self._set_closed(chat, topic, False, self._actor(chat, by_user_id))

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """A person deletes the topic with its messages: later sends there answer "message thread not found"."""
        chat, topic = self._person_topic(chat_id, thread_id)
        self._remove_topic(chat, topic)

    def chat_topics(self, chat_id: int) -> list[dict]:
        """The chat's topics now: ForumTopic fields, plus closed."""
        return [{**t.to_dict(), "closed": t.closed} for (cid, _), t in sorted(self.topics.items())
                if cid == int(chat_id)]

    def topic_messages(self, chat_id: int, thread_id: int | None) -> list[dict]:
        """Messages now in a topic (None: the main thread, a forum's General topic)."""
        return [m for m in self.messages(chat_id) if m.get("message_thread_id") == thread_id]

    def _topic_routes(self, ctl, cid) -> list[tuple[str, str, Any]]:
        def tid(request) -> int:
            return int(request.match_info["thread_id"])

        return [
            ("POST", "groups/{chat_id}/forum", ctl(lambda b, r: self.make_forum(cid(r), b.get("enabled", True)))),
            ("POST", "groups/{chat_id}/bot_rights", ctl(lambda b, r: self.set_bot_rights(
                cid(r), can_manage_topics=bool_param(b, "can_manage_topics") if "can_manage_topics" in b else True))),
            ("POST", "groups/{chat_id}/topics", ctl(lambda b, r: self.create_topic(
                cid(r), b["name"], by_user_id=b.get("by_user_id")))),
            ("POST", "groups/{chat_id}/topics/{thread_id}/close", ctl(lambda b, r: self.close_topic(
                cid(r), tid(r), by_user_id=b.get("by_user_id")))),
            ("POST", "groups/{chat_id}/topics/{thread_id}/reopen", ctl(lambda b, r: self.reopen_topic(
                cid(r), tid(r), by_user_id=b.get("by_user_id")))),
            ("POST", "groups/{chat_id}/topics/{thread_id}/delete", ctl(lambda b, r: self.delete_topic(
                cid(r), tid(r)))),
            ("GET", "chats/{chat_id}/topics", ctl(lambda b, r: self.chat_topics(cid(r)))),
        ]

