"""Users, chats and membership: private chats (one per user, chat id = user id), groups and supergroups, the
bot's own status in each (my_chat_member when it is added, kicked or leaves, or a user blocks it), members'
statuses (chat_member), a basic group's migration to a supergroup, privacy mode (which group messages reach the
bot), and the Bot API reads getChat, getChatMember, getChatAdministrators, getChatMemberCount.

``_target`` resolves the chat a bot call addresses and raises the error Telegram would (chat not found,
blocked by the user, kicked, group upgraded to a supergroup).
"""
from __future__ import annotations

import re
import time
from typing import Any

from .models import ApiError, EmuChat, EmulatorError, EmuUser, int_param

GROUP_ANONYMOUS_BOT = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}


class ChatsMixin:
    def _init_chats(self) -> None:
        self.users: dict[int, EmuUser] = {}
        self.chats: dict[int, EmuChat] = {}

    def _user(self, user_id: Any) -> EmuUser:
        user = self.users.get(int(user_id))
        if user is None:
            raise EmulatorError(f"unknown user {user_id}; call add_user() first")
        return user

    def _chat(self, chat_id: Any) -> EmuChat:
        chat = self.chats.get(int(chat_id))
        if chat is None:
            raise EmulatorError(f"unknown chat {chat_id}")
        return chat

    def _target(self, p: dict, key: str = "chat_id", write: bool = True) -> EmuChat:
        """Resolve a chat the bot addresses; raise the Telegram error a real server would."""
        raw = p.get(key)
        if raw is None or raw == "":
            raise ApiError(400, f"Bad Request: {key} is empty")
        chat = None
        if isinstance(raw, str) and raw.startswith("@"):
            chat = next((c for c in self.chats.values() if c.user and c.user.username == raw[1:]), None)
        else:
            try:
                chat = self.chats.get(int(raw))
            except ValueError:
                pass
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.migrated_to is not None:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": chat.migrated_to})
        kind = "supergroup chat" if chat.type == "supergroup" else "group chat"
        if chat.type == "private" and chat.user and write:
            if chat.user.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not chat.user.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        elif chat.bot_status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind}")
        elif chat.bot_status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind}")
        return chat

    def _member(self, user: dict, status: str) -> dict:
        d: dict[str, Any] = {"status": status, "user": user}
        if status == "creator":
            d["is_anonymous"] = False
        elif status == "administrator":
            d.update(can_be_edited=False, is_anonymous=False, can_manage_chat=True, can_delete_messages=True,
                     can_manage_video_chats=True, can_restrict_members=True, can_promote_members=False,
                     can_change_info=True, can_invite_users=True, can_post_stories=False, can_edit_stories=False,
                     can_delete_stories=False, can_send_welcome_messages=False, can_pin_messages=True)
        elif status == "kicked":
            d["until_date"] = 0
        elif status == "restricted":
            d.update(dict.fromkeys(("can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
                                    "can_send_videos", "can_send_video_notes", "can_send_voice_notes",
                                    "can_send_polls", "can_send_other_messages", "can_add_web_page_previews",
                                    "can_react_to_messages", "can_edit_tag", "can_change_info",
                                    "can_invite_users", "can_pin_messages", "can_manage_topics"), False),
                     is_member=True, until_date=0)
        return d

    def _bot_member(self, chat: EmuChat, status: str) -> dict:
        """The bot's ChatMember; an administrator of a supergroup says whether it may manage topics."""
        d = self._member(self.bot_user, status)
        if status == "administrator" and chat.type == "supergroup":
            d["can_manage_topics"] = chat.bot_can_manage_topics
        return d

    def _bot_sees(self, chat: EmuChat, msg: dict) -> bool:
        if chat.type == "private" or not self.privacy_mode or chat.bot_status == "administrator":
            return True
        text, me = msg.get("text", ""), self.bot_user["username"].lower()
        command = re.match(r"/\w+(?:@(\w+))?", text)
        replied = (msg.get("reply_to_message") or {}).get("from", {}).get("id") == self.bot_user["id"]
        return bool(command and (command.group(1) or me).lower() == me) or replied or f"@{me}" in text.lower()

    # -------------------------------------------------------------------------------------------- Bot API methods
    def _api_getchatmember(self, p: dict) -> dict:
        chat, user_id = self._target(p, write=False), int_param(p, "user_id")
        if user_id == self.bot_user["id"]:
            status = "member" if chat.type == "private" else chat.bot_status
            return self._bot_member(chat, "kicked" if chat.user and chat.user.blocked else status)
        if user_id not in self.users:
            raise ApiError(400, "Bad Request: user not found")
        if chat.type == "private":
            return self._member(self.users[user_id].to_dict(), "member" if user_id == chat.id else "left")
        return self._member(self.users[user_id].to_dict(), chat.members.get(user_id, "left"))

    def _api_getchatadministrators(self, p: dict) -> list[dict]:
        chat = self._target(p, write=False)
        if chat.type == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        admins = [self._member(self.users[uid].to_dict(), status) for uid, status in chat.members.items()
                  if status in ("creator", "administrator")]
        if chat.bot_status == "administrator":
            admins.append(self._bot_member(chat, "administrator"))
        return admins

    def _api_getchatmembercount(self, p: dict) -> int:
        chat = self._target(p, write=False)
        if chat.type == "private":
            return 2
        return sum(s not in ("left", "kicked") for s in chat.members.values()) + (chat.bot_status in
                                                                                  ("member", "administrator"))

    def _api_getchat(self, p: dict) -> dict:
        chat = self._target(p, write=False)
        gifts = dict.fromkeys(("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription",
                               "gifts_from_channels"), chat.type == "private")
        return {**chat.to_dict(), "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}

    # -------------------------------------------------------------------------------------------- control: users, chats
    def add_user(self, user_id: int, first_name: str, language_code: str = "en", username: str | None = None, *,
                 last_name: str | None = None, is_premium: bool = False, started: bool = True) -> dict:
        """Create a user and the private chat with the bot (chat id = user id). ``started=False``: the user never
        opened the bot, so the bot cannot write first (403), like on Telegram."""
        user = EmuUser(int(user_id), first_name, language_code, username, last_name, is_premium, started)
        self.users[user.id] = user
        self.chats[user.id] = EmuChat(user.id, "private", user=user)
        return user.to_dict()

    def _actor(self, chat: EmuChat, by_user_id: int | None) -> dict:
        if by_user_id is not None:
            return self._user(by_user_id).to_dict()
        for wanted in ("creator", "administrator", "member"):
            for uid, status in chat.members.items():
                if status == wanted:
                    return self.users[uid].to_dict()
        return GROUP_ANONYMOUS_BOT

    def _bot_status_change(self, chat: EmuChat, new: str, actor: dict) -> None:
        old = "kicked" if chat.user and chat.user.blocked else ("member" if chat.user else chat.bot_status)
        self._push("my_chat_member", {"chat": chat.to_dict(), "from": actor, "date": int(time.time()),
                                      "old_chat_member": self._member(self.bot_user, old),
                                      "new_chat_member": self._member(self.bot_user, new)})

    def create_group(self, chat_id: int, title: str, members: dict[int, str] | None = None, supergroup: bool = False,
                     *, bot_status: str = "member", added_by: int | None = None, forum: bool = False) -> dict:
        """Create a group (negative id) with ``{user_id: creator|administrator|member}`` and add the bot to it
        (emits my_chat_member and a new_chat_members service message). Unknown member ids become users.
        ``forum``: a supergroup with topics (topics.py)."""
        chat_id = int(chat_id)
        if chat_id >= 0:
            raise EmulatorError("group ids are negative")
        chat = EmuChat(chat_id, "supergroup" if supergroup or forum else "group", title, bot_status="left",
                       is_forum=forum)
        for uid, status in (members or {}).items():
            if int(uid) not in self.users:
                self.add_user(int(uid), f"User {uid}")
            chat.members[int(uid)] = status
        self.chats[chat_id] = chat
        if bot_status not in ("left", "kicked"):
            self.add_bot_to_group(chat_id, status=bot_status, by_user_id=added_by)
        return chat.to_dict()

    def add_bot_to_group(self, chat_id: int, *, status: str = "member", by_user_id: int | None = None) -> None:
        chat = self._chat(chat_id)
        actor = self._actor(chat, by_user_id)
        self._bot_status_change(chat, status, actor)
        chat.bot_status = status
        msg = self._new_message(chat, actor, new_chat_members=[self.bot_user])
        self._push("message", msg)

    def remove_bot_from_group(self, chat_id: int, *, status: str = "kicked", by_user_id: int | None = None) -> None:
        """Kick the bot (status "kicked") or make it leave ("left"): emits my_chat_member; later sends get 403."""
        if status not in ("kicked", "left"):
            raise EmulatorError('status must be "kicked" or "left"')
        chat = self._chat(chat_id)
        self._bot_status_change(chat, status, self._actor(chat, by_user_id))
        chat.bot_status = status

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """Change a user's status in a group; emits a chat_member update (delivered only if the bot asks for it)."""
        chat, user = self._chat(chat_id), self._user(user_id)
        old = chat.members.get(user.id, "left")
        chat.members[user.id] = status
        self._push("chat_member", {"chat": chat.to_dict(), "from": self._actor(chat, None), "date": int(time.time()),
                                   "old_chat_member": self._member(user.to_dict(), old),
                                   "new_chat_member": self._member(user.to_dict(), status)})

    def migrate_group_to_supergroup(self, chat_id: int, *, by_user_id: int | None = None) -> int:
        """Upgrade a basic group: emits migrate_to_chat_id in the old chat and migrate_from_chat_id in the new one;
        afterwards bot calls on the old id get 400 with parameters.migrate_to_chat_id."""
        old = self._chat(chat_id)
        if old.type != "group" or old.migrated_to is not None:
            raise EmulatorError(f"chat {chat_id} is not a basic group")
        new_id = -(10 ** 12) - abs(old.id)
        new = EmuChat(new_id, "supergroup", old.title, members=dict(old.members), bot_status=old.bot_status,
                      migrated_from=old.id)
        self.chats[new_id] = new
        actor = self._actor(old, by_user_id)
        self._push("message", self._new_message(old, actor, migrate_to_chat_id=new_id))
        old.migrated_to = new_id
        self._push("message", self._new_message(new, GROUP_ANONYMOUS_BOT, sender_chat=new.to_dict(),
                                                migrate_from_chat_id=old.id))
        return new_id

    def block_bot(self, user_id: int) -> None:
        """The user blocks the bot: my_chat_member (kicked) is emitted, sends to the user answer 403."""
        user = self._user(user_id)
        if not user.blocked:
            self._bot_status_change(self.chats[user.id], "kicked", user.to_dict())
            user.blocked = True

    def unblock_bot(self, user_id: int) -> None:
        user = self._user(user_id)
        if user.blocked:
            user.blocked = False
            self._push("my_chat_member", {"chat": self.chats[user.id].to_dict(), "from": user.to_dict(),
                                          "date": int(time.time()),
                                          "old_chat_member": self._member(self.bot_user, "kicked"),
                                          "new_chat_member": self._member(self.bot_user, "member")})
