/// A three-digit reply code (RFC 1459/2812 and modern.ircdocs.horse "Numerics"; 730-734 from
/// IRCv3 MONITOR; 704-706 and 524 from modern.ircdocs.horse HELP; 900-908 from IRCv3 SASL). A
/// small struct with static members, so that an unknown code is still a value that prints.
public struct IRCNumeric: Hashable, Sendable, CustomStringConvertible {
    public let code: Int

    public init(_ code: Int) {
        precondition((0...999).contains(code), "numerics have three digits")
        self.code = code
    }

    /// The three digits as sent: `001`.
    public var text: String {
        self.code < 10 ? "00\(self.code)" : self.code < 100 ? "0\(self.code)" : String(self.code)
    }

    /// The conventional name (`RPL_WELCOME`), or the digits for a code not listed here.
    public var description: String { Self.names[self.code] ?? self.text }

    /// Every numeric named here, in code order.
    public static let all: [IRCNumeric] = names.keys.sorted().map(IRCNumeric.init)

    /// RPL_WELCOME
    public static let rplWelcome = IRCNumeric(1)
    /// RPL_YOURHOST
    public static let rplYourHost = IRCNumeric(2)
    /// RPL_CREATED
    public static let rplCreated = IRCNumeric(3)
    /// RPL_MYINFO
    public static let rplMyInfo = IRCNumeric(4)
    /// RPL_ISUPPORT
    public static let rplISupport = IRCNumeric(5)
    /// RPL_UMODEIS
    public static let rplUModeIs = IRCNumeric(221)
    /// RPL_LUSERCLIENT
    public static let rplLUserClient = IRCNumeric(251)
    /// RPL_LUSEROP
    public static let rplLUserOp = IRCNumeric(252)
    /// RPL_LUSERUNKNOWN
    public static let rplLUserUnknown = IRCNumeric(253)
    /// RPL_LUSERCHANNELS
    public static let rplLUserChannels = IRCNumeric(254)
    /// RPL_LUSERME
    public static let rplLUserMe = IRCNumeric(255)
    /// RPL_TRYAGAIN
    public static let rplTryAgain = IRCNumeric(263)
    /// RPL_LOCALUSERS
    public static let rplLocalUsers = IRCNumeric(265)
    /// RPL_GLOBALUSERS
    public static let rplGlobalUsers = IRCNumeric(266)
    /// RPL_AWAY
    public static let rplAway = IRCNumeric(301)
    /// RPL_USERHOST
    public static let rplUserHost = IRCNumeric(302)
    /// RPL_ISON
    public static let rplIsOn = IRCNumeric(303)
    /// RPL_UNAWAY
    public static let rplUnAway = IRCNumeric(305)
    /// RPL_NOWAWAY
    public static let rplNowAway = IRCNumeric(306)
    /// RPL_WHOISUSER
    public static let rplWhoisUser = IRCNumeric(311)
    /// RPL_WHOISSERVER
    public static let rplWhoisServer = IRCNumeric(312)
    /// RPL_WHOISOPERATOR
    public static let rplWhoisOperator = IRCNumeric(313)
    /// RPL_ENDOFWHO
    public static let rplEndOfWho = IRCNumeric(315)
    /// RPL_WHOISIDLE
    public static let rplWhoisIdle = IRCNumeric(317)
    /// RPL_ENDOFWHOIS
    public static let rplEndOfWhois = IRCNumeric(318)
    /// RPL_WHOISCHANNELS
    public static let rplWhoisChannels = IRCNumeric(319)
    /// RPL_LISTSTART
    public static let rplListStart = IRCNumeric(321)
    /// RPL_LIST
    public static let rplList = IRCNumeric(322)
    /// RPL_LISTEND
    public static let rplListEnd = IRCNumeric(323)
    /// RPL_CHANNELMODEIS
    public static let rplChannelModeIs = IRCNumeric(324)
    /// RPL_CREATIONTIME
    public static let rplCreationTime = IRCNumeric(329)
    /// RPL_NOTOPIC
    public static let rplNoTopic = IRCNumeric(331)
    /// RPL_TOPIC
    public static let rplTopic = IRCNumeric(332)
    /// RPL_TOPICWHOTIME
    public static let rplTopicWhoTime = IRCNumeric(333)
    /// RPL_WHOREPLY
    public static let rplWhoReply = IRCNumeric(352)
    /// RPL_NAMREPLY
    public static let rplNamReply = IRCNumeric(353)
    /// RPL_ENDOFNAMES
    public static let rplEndOfNames = IRCNumeric(366)
    /// RPL_ENDOFBANLIST
    public static let rplEndOfBanList = IRCNumeric(368)
    /// RPL_MOTD
    public static let rplMotd = IRCNumeric(372)
    /// RPL_MOTDSTART
    public static let rplMotdStart = IRCNumeric(375)
    /// RPL_ENDOFMOTD
    public static let rplEndOfMotd = IRCNumeric(376)
    /// RPL_YOUREOPER
    public static let rplYoureOper = IRCNumeric(381)
    /// ERR_NOSUCHNICK
    public static let errNoSuchNick = IRCNumeric(401)
    /// ERR_NOSUCHSERVER
    public static let errNoSuchServer = IRCNumeric(402)
    /// ERR_NOSUCHCHANNEL
    public static let errNoSuchChannel = IRCNumeric(403)
    /// ERR_CANNOTSENDTOCHAN
    public static let errCannotSendToChan = IRCNumeric(404)
    /// ERR_TOOMANYCHANNELS
    public static let errTooManyChannels = IRCNumeric(405)
    /// ERR_INVALIDCAPCMD
    public static let errInvalidCapCmd = IRCNumeric(410)
    /// ERR_NORECIPIENT
    public static let errNoRecipient = IRCNumeric(411)
    /// ERR_NOTEXTTOSEND
    public static let errNoTextToSend = IRCNumeric(412)
    /// ERR_INPUTTOOLONG
    public static let errInputTooLong = IRCNumeric(417)
    /// ERR_UNKNOWNCOMMAND
    public static let errUnknownCommand = IRCNumeric(421)
    /// ERR_NOMOTD
    public static let errNoMotd = IRCNumeric(422)
    /// ERR_NONICKNAMEGIVEN
    public static let errNoNicknameGiven = IRCNumeric(431)
    /// ERR_ERRONEUSNICKNAME
    public static let errErroneousNickname = IRCNumeric(432)
    /// ERR_NICKNAMEINUSE
    public static let errNicknameInUse = IRCNumeric(433)
    /// ERR_USERNOTINCHANNEL
    public static let errUserNotInChannel = IRCNumeric(441)
    /// ERR_NOTONCHANNEL
    public static let errNotOnChannel = IRCNumeric(442)
    /// ERR_NOTREGISTERED
    public static let errNotRegistered = IRCNumeric(451)
    /// ERR_NEEDMOREPARAMS
    public static let errNeedMoreParams = IRCNumeric(461)
    /// ERR_ALREADYREGISTERED
    public static let errAlreadyRegistered = IRCNumeric(462)
    /// ERR_PASSWDMISMATCH
    public static let errPasswdMismatch = IRCNumeric(464)
    /// ERR_CHANNELISFULL
    public static let errChannelIsFull = IRCNumeric(471)
    /// ERR_UNKNOWNMODE
    public static let errUnknownMode = IRCNumeric(472)
    /// ERR_BADCHANMASK
    public static let errBadChanMask = IRCNumeric(476)
    /// ERR_NOPRIVILEGES
    public static let errNoPrivileges = IRCNumeric(481)
    /// ERR_CHANOPRIVSNEEDED
    public static let errChanOPrivsNeeded = IRCNumeric(482)
    /// ERR_NOOPERHOST
    public static let errNoOperHost = IRCNumeric(491)
    /// ERR_UMODEUNKNOWNFLAG
    public static let errUModeUnknownFlag = IRCNumeric(501)
    /// ERR_USERSDONTMATCH
    public static let errUsersDontMatch = IRCNumeric(502)
    /// RPL_MONONLINE
    public static let rplMonOnline = IRCNumeric(730)
    /// RPL_MONOFFLINE
    public static let rplMonOffline = IRCNumeric(731)
    /// RPL_MONLIST
    public static let rplMonList = IRCNumeric(732)
    /// RPL_ENDOFMONLIST
    public static let rplEndOfMonList = IRCNumeric(733)
    /// ERR_MONLISTFULL
    public static let errMonListFull = IRCNumeric(734)

    /// RPL_WHOISACCOUNT
    public static let rplWhoisAccount = IRCNumeric(330)
    /// RPL_LOGGEDIN
    public static let rplLoggedIn = IRCNumeric(900)
    /// RPL_LOGGEDOUT
    public static let rplLoggedOut = IRCNumeric(901)
    /// ERR_NICKLOCKED
    public static let errNickLocked = IRCNumeric(902)
    /// RPL_SASLSUCCESS
    public static let rplSaslSuccess = IRCNumeric(903)
    /// ERR_SASLFAIL
    public static let errSaslFail = IRCNumeric(904)
    /// ERR_SASLTOOLONG
    public static let errSaslTooLong = IRCNumeric(905)
    /// ERR_SASLABORTED
    public static let errSaslAborted = IRCNumeric(906)
    /// ERR_SASLALREADY
    public static let errSaslAlready = IRCNumeric(907)
    /// RPL_SASLMECHS
    public static let rplSaslMechs = IRCNumeric(908)

    // Channel modes and INVITE (modern.ircdocs.horse).
    /// RPL_INVITELIST
    public static let rplInviteList = IRCNumeric(336)
    /// RPL_ENDOFINVITELIST
    public static let rplEndOfInviteList = IRCNumeric(337)
    /// RPL_INVITING
    public static let rplInviting = IRCNumeric(341)
    /// RPL_INVEXLIST
    public static let rplInvExList = IRCNumeric(346)
    /// RPL_ENDOFINVEXLIST
    public static let rplEndOfInvExList = IRCNumeric(347)
    /// RPL_EXCEPTLIST
    public static let rplExceptList = IRCNumeric(348)
    /// RPL_ENDOFEXCEPTLIST
    public static let rplEndOfExceptList = IRCNumeric(349)
    /// RPL_BANLIST
    public static let rplBanList = IRCNumeric(367)
    /// ERR_USERONCHANNEL
    public static let errUserOnChannel = IRCNumeric(443)
    /// ERR_INVITEONLYCHAN
    public static let errInviteOnlyChan = IRCNumeric(473)
    /// ERR_BANNEDFROMCHAN
    public static let errBannedFromChan = IRCNumeric(474)
    /// ERR_BADCHANNELKEY
    public static let errBadChannelKey = IRCNumeric(475)
    /// ERR_BANLISTFULL
    public static let errBanListFull = IRCNumeric(478)
    /// ERR_INVALIDMODEPARAM
    public static let errInvalidModeParam = IRCNumeric(696)
    /// RPL_ADMINME
    public static let rplAdminMe = IRCNumeric(256)
    /// RPL_ADMINLOC1
    public static let rplAdminLoc1 = IRCNumeric(257)
    /// RPL_ADMINLOC2
    public static let rplAdminLoc2 = IRCNumeric(258)
    /// RPL_ADMINEMAIL
    public static let rplAdminEmail = IRCNumeric(259)
    /// RPL_WHOWASUSER
    public static let rplWhowasUser = IRCNumeric(314)
    /// RPL_VERSION
    public static let rplVersion = IRCNumeric(351)
    /// RPL_LINKS
    public static let rplLinks = IRCNumeric(364)
    /// RPL_ENDOFLINKS
    public static let rplEndOfLinks = IRCNumeric(365)
    /// RPL_ENDOFWHOWAS
    public static let rplEndOfWhowas = IRCNumeric(369)
    /// RPL_INFO
    public static let rplInfo = IRCNumeric(371)
    /// RPL_ENDOFINFO
    public static let rplEndOfInfo = IRCNumeric(374)
    /// RPL_TIME
    public static let rplTime = IRCNumeric(391)
    /// ERR_WASNOSUCHNICK
    public static let errWasNoSuchNick = IRCNumeric(406)
    /// ERR_HELPNOTFOUND
    public static let errHelpNotFound = IRCNumeric(524)
    /// RPL_HELPSTART
    public static let rplHelpStart = IRCNumeric(704)
    /// RPL_HELPTXT
    public static let rplHelpTxt = IRCNumeric(705)
    /// RPL_ENDOFHELP
    public static let rplEndOfHelp = IRCNumeric(706)

    private static let names: [Int: String] = [
        1: "RPL_WELCOME",
        2: "RPL_YOURHOST",
        3: "RPL_CREATED",
        4: "RPL_MYINFO",
        5: "RPL_ISUPPORT",
        221: "RPL_UMODEIS",
        251: "RPL_LUSERCLIENT",
        252: "RPL_LUSEROP",
        253: "RPL_LUSERUNKNOWN",
        254: "RPL_LUSERCHANNELS",
        255: "RPL_LUSERME",
        263: "RPL_TRYAGAIN",
        265: "RPL_LOCALUSERS",
        266: "RPL_GLOBALUSERS",
        301: "RPL_AWAY",
        302: "RPL_USERHOST",
        303: "RPL_ISON",
        305: "RPL_UNAWAY",
        306: "RPL_NOWAWAY",
        311: "RPL_WHOISUSER",
        312: "RPL_WHOISSERVER",
        313: "RPL_WHOISOPERATOR",
        315: "RPL_ENDOFWHO",
        317: "RPL_WHOISIDLE",
        318: "RPL_ENDOFWHOIS",
        319: "RPL_WHOISCHANNELS",
        321: "RPL_LISTSTART",
        322: "RPL_LIST",
        323: "RPL_LISTEND",
        324: "RPL_CHANNELMODEIS",
        329: "RPL_CREATIONTIME",
        331: "RPL_NOTOPIC",
        332: "RPL_TOPIC",
        333: "RPL_TOPICWHOTIME",
        352: "RPL_WHOREPLY",
        353: "RPL_NAMREPLY",
        366: "RPL_ENDOFNAMES",
        368: "RPL_ENDOFBANLIST",
        372: "RPL_MOTD",
        375: "RPL_MOTDSTART",
        376: "RPL_ENDOFMOTD",
        381: "RPL_YOUREOPER",
        401: "ERR_NOSUCHNICK",
        402: "ERR_NOSUCHSERVER",
        403: "ERR_NOSUCHCHANNEL",
        404: "ERR_CANNOTSENDTOCHAN",
        405: "ERR_TOOMANYCHANNELS",
        410: "ERR_INVALIDCAPCMD",
        411: "ERR_NORECIPIENT",
        412: "ERR_NOTEXTTOSEND",
        417: "ERR_INPUTTOOLONG",
        421: "ERR_UNKNOWNCOMMAND",
        422: "ERR_NOMOTD",
        431: "ERR_NONICKNAMEGIVEN",
        432: "ERR_ERRONEUSNICKNAME",
        433: "ERR_NICKNAMEINUSE",
        441: "ERR_USERNOTINCHANNEL",
        442: "ERR_NOTONCHANNEL",
        451: "ERR_NOTREGISTERED",
        461: "ERR_NEEDMOREPARAMS",
        462: "ERR_ALREADYREGISTERED",
        464: "ERR_PASSWDMISMATCH",
        471: "ERR_CHANNELISFULL",
        472: "ERR_UNKNOWNMODE",
        476: "ERR_BADCHANMASK",
        481: "ERR_NOPRIVILEGES",
        482: "ERR_CHANOPRIVSNEEDED",
        491: "ERR_NOOPERHOST",
        501: "ERR_UMODEUNKNOWNFLAG",
        502: "ERR_USERSDONTMATCH",
        730: "RPL_MONONLINE",
        731: "RPL_MONOFFLINE",
        732: "RPL_MONLIST",
        733: "RPL_ENDOFMONLIST",
        734: "ERR_MONLISTFULL",
        330: "RPL_WHOISACCOUNT",
        900: "RPL_LOGGEDIN",
        901: "RPL_LOGGEDOUT",
        902: "ERR_NICKLOCKED",
        903: "RPL_SASLSUCCESS",
        904: "ERR_SASLFAIL",
        905: "ERR_SASLTOOLONG",
        906: "ERR_SASLABORTED",
        907: "ERR_SASLALREADY",
        908: "RPL_SASLMECHS",
        336: "RPL_INVITELIST",
        337: "RPL_ENDOFINVITELIST",
        341: "RPL_INVITING",
        346: "RPL_INVEXLIST",
        347: "RPL_ENDOFINVEXLIST",
        348: "RPL_EXCEPTLIST",
        349: "RPL_ENDOFEXCEPTLIST",
        367: "RPL_BANLIST",
        443: "ERR_USERONCHANNEL",
        473: "ERR_INVITEONLYCHAN",
        474: "ERR_BANNEDFROMCHAN",
        475: "ERR_BADCHANNELKEY",
        478: "ERR_BANLISTFULL",
        696: "ERR_INVALIDMODEPARAM",
        256: "RPL_ADMINME",
        257: "RPL_ADMINLOC1",
        258: "RPL_ADMINLOC2",
        259: "RPL_ADMINEMAIL",
        314: "RPL_WHOWASUSER",
        351: "RPL_VERSION",
        364: "RPL_LINKS",
        365: "RPL_ENDOFLINKS",
        369: "RPL_ENDOFWHOWAS",
        371: "RPL_INFO",
        374: "RPL_ENDOFINFO",
        391: "RPL_TIME",
        406: "ERR_WASNOSUCHNICK",
        524: "ERR_HELPNOTFOUND",
        704: "RPL_HELPSTART",
        705: "RPL_HELPTXT",
        706: "RPL_ENDOFHELP",
    ]
}
